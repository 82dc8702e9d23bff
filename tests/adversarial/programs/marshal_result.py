# expect: ok
# Returns marshalled code bytes as text: the evaluator gets a string, which is just a wrong answer.
import marshal


def run():
    return marshal.dumps(compile("print('pwned')", "x", "exec")).hex()
