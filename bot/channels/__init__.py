"""Fronts: each turns its platform's input into Brain calls and renders Replies. No trivia logic here."""
