"""Export to plugin hosts: processors, chains and voices as scriptable block modules."""
