"""The business numbers: KPIs, segmentations, retention-campaign ROI and measured campaigns."""
