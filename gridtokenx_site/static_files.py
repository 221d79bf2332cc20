"""WhiteNoise, with the table of the finders' static files made once per process."""

from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """Serves what the static finders find (node_modules' vendor files, static/), as WhiteNoise.

    WhiteNoise stats and indexes every such file (about 700, a third of a second) whenever
    Django builds its middleware chain: once per daphne process, but once per test client
    too, which was most of what a view test cost. The files do not change while a process
    runs, so the first table serves every later chain of the process.
    """

    _finder_files: dict | None = None

    def add_files_from_finders(self):
        cls = type(self)
        if cls._finder_files is None:
            before = dict(self.files)
            super().add_files_from_finders()
            cls._finder_files = {url: f for url, f in self.files.items() if before.get(url) is not f}
        else:
            self.files.update(cls._finder_files)
