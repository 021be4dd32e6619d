"""Probe sets: cloze facts (LAMA), minimal pairs (BLiMP), bias pairs (CrowS-Pairs). No Textual."""
