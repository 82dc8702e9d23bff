# expect: crashed sandbox-violation
# reason: MemoryError|memory
def run():
    hoard = []
    while True:
        hoard.append(bytearray(256 << 20))
