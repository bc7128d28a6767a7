"""A held-out evaluation of the geocoder (issue 21): address queries written from a database's
truth by writers of our own, scored through gridmap's public API and its bulk command. Written
without reading the geocoder; README.md beside this file says how each class is made."""
