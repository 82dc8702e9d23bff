# expect: crashed
# reason: No such file|Permission
# The answer is in the task folder, which the candidate's sandbox does not show.
def run():
    with open("{TASK}/answer.txt") as f:
        return int(f.read())
