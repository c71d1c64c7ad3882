"""The application layer: the `casebook` command, the build, the watcher.

It may import anything below it (casebook ground modules, scraper, search, plugins);
nothing below imports it."""
