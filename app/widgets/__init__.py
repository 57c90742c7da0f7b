"""Widgets around the canvas: start view, frame list, model panel, heatmap dock, dialogs."""
