# expect: crashed
# reason: Permission|Read-only|No such file
def run():
    for path in ("{OUTSIDE}/canary.txt", "/etc/evolve-pwned", "/usr/evolve-pwned", "{TASK}/evaluate.py"):
        with open(path, "w") as f:
            f.write("pwned")
