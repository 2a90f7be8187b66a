"""ProjectionReplay, one idea per module.

spec      the spec, validated (pure)
phases    the phase machine: a typed observation in, the next phase and an Action out (pure)
children  the Jobs and the shadow Deployment a replay creates, and their names (pure)
state     what a round works with, read once at its start; the status a replay starts with
observe   reads what the phase machine needs for the current phase
lock      the lock and the pause on the Projection; taking it starts a replay
act       carries out the Action
report    status, conditions, Events and metrics
restore   gives the projection back when a replay ends or is deleted
replayer  one round: observe -> decide -> act -> report
"""
