"""Reference and demo data (`reference`) and the demo county's grid generator (`build`)."""
