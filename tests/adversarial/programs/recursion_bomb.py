# expect: crashed
# reason: RecursionError
def run():
    return run()
