"""Veeam Backup Enterprise Manager (EM) REST API simulator (test tool, stdlib + cryptography)."""
