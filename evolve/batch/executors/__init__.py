"""Executors: where a batch's run jobs execute (this machine, a Ray cluster); each implements job.Executor."""
