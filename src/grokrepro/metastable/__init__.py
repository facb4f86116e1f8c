"""Study A (Ersoy & Wiesner 2026): first-order L2 phase transitions in deep linear networks."""
