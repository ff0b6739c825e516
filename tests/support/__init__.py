"""Shared test harness: helpers and fixtures the specifications use; no tests here."""
