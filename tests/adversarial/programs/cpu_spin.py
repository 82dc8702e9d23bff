# expect: timeout
# reason: wall-time limit
def run():
    while True:
        pass
