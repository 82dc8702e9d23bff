# expect: crashed sandbox-violation
# reason: file size|File too large|No space|SIGXFSZ
def run():
    with open("fill.bin", "wb") as f:
        while True:
            f.write(b"\0" * (1 << 20))
