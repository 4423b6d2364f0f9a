"""The people's server-rendered pages (zh-CN)."""
