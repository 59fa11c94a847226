"""The bottom of the house: database-thread helpers, loop-bound clients, Redis and task helpers.

Every app may import it; it imports no app.
"""
