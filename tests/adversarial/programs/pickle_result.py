# expect: invalid
# reason: cannot cross
# An object whose unpickling would run code: it never leaves the candidate (the channel is JSON, not pickle).
import os


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch {OUTSIDE}/pickled",))


def run():
    with open("result.pkl", "wb") as f:
        import pickle

        pickle.dump(Exploit(), f)
    return Exploit()
