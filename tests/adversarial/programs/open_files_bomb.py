# expect: crashed
# reason: Too many open files
def run():
    files = []
    while True:
        files.append(open(f"f{len(files)}.txt", "w"))
