"""The web layer: the app factory (`web.app`), REST API (`web.api`), hooks of outside parties
(`web.hooks`), people's pages (`web.pages`), the live console (`web.console`) and the `hotline`
command (`web.cli`)."""
