"""Builders and readers the tests share: accounts, a staffed floor, agents' event streams."""
