"""The meaning of a score: scale and grades, reasons, decision and limit, policy rules (联合惩戒), ScoreService."""
