"""Endpoints outside parties call: WeChat, the 110 desk, Open311."""
