from tests.chain.consensus.test_simulation import SUMMARY


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say how much of the consensus simulation ran (seeds, events, heights)."""
    summary = config.stash.get(SUMMARY, None)
    if summary:
        terminalreporter.write_line(summary)
