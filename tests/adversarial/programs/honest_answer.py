# expect: ok
# score: 1
# The control: a candidate that simply returns the answer scores 1, so a 0 elsewhere means something.
def run():
    return 6 * 7
