"""The chain's write path. Views, API endpoints, tasks and commands call these."""
