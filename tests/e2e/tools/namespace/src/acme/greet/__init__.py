"""acme.greet: a regular package inside the namespace package acme."""
