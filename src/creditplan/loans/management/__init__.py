"""Management commands of the loans app (`creditplan loan ...`)."""
