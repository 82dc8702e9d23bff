# expect: crashed
# reason: KeyError
import os


def run():
    return os.environ["OPENAI_API_KEY"]
