"""`pilotlight provision`: boards found on USB (or vboards), identified by chip id, bound to
poles, given firmware and config over a fast verified sync, self-tested, recorded in the inventory."""
