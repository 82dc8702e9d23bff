"""Reports over the store: statistics (`stats`), figures (`figures`), data loading (`data`), tables (`tables`),
the HTML page (`html`) and their assembly (`build`); `evolve report` is `command`."""
