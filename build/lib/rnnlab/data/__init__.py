"""LightningDataModules, one per task, serving whole batches from in-memory tensors."""
