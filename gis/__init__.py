"""Pure geometry and geodesy for gridmap: no database, no web (numpy, shapely, pyproj only)."""
