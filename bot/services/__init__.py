"""Loaders the CLI, the Slack handlers, the jobs and the demo share: they read the stores, call the
domain (``finops/``) and return plain results, so every surface shows the same numbers.

- :mod:`bot.services.forecast`: daily costs by team, the month-end forecast, budgets, team names;
- :mod:`bot.services.units`: cost per unit;
- :mod:`bot.services.records`: what the bot recorded (open anomalies, alert timelines, findings);
- :mod:`bot.services.maturity`: the maturity scorecard's inputs and the scorecard.
"""
