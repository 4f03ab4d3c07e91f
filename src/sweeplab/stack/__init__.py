"""Stacked training: the jobs of a sweep trained as one LightningModule by the usual Trainer.

`plan` groups a sweep's jobs into stacks, `net` stacks their networks, `optim` updates every
member with its own optimiser settings and schedule, `module` is the stack's LightningModule,
`logger` gives each member its own loggers, `launch` runs the stacks and writes each member's
job outputs.
"""
