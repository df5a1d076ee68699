"""Thin routes: parse, call one service function, return a public shape."""
