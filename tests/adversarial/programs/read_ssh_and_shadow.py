# expect: crashed
# reason: Permission|No such file
def run():
    found = []
    for path in ("/root/.ssh/id_rsa", "/etc/shadow", "{OUTSIDE}/secret.txt"):
        with open(path) as f:
            found.append(f.read())
    return found
