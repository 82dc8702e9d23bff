"""Where `evolve ui` cannot listen: each case is one line saying what to change, never a traceback."""

import socket

import pytest
from typer.testing import CliRunner

from evolve.cli import app
from evolve.errors import EvolveError
from evolve.ui.server import _bind


@pytest.mark.parametrize("port", ["99999", "-5"])
def test_a_port_out_of_range_is_a_usage_error(tmp_path, port):
    result = CliRunner().invoke(app, ["ui", "--storage", str(tmp_path / "e.db"), "--port", port])
    assert result.exit_code == 2 and "Invalid value for '--port'" in result.output, result.output


def test_a_busy_port_and_a_bad_host_say_which_option_to_change():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EvolveError, match=r"in use \(choose another with --port\)"):
            _bind("127.0.0.1", port)
    with pytest.raises(EvolveError, match=r"cannot listen on 256\.1\.1\.1:0: .*\(check --host\)"):
        _bind("256.1.1.1", 0)
