"""``agentsctl``: an organization's agents as files in a directory, kept in git and applied from
CI; then released and deployed to environments.

The pieces, from the files to the server:

* :mod:`~agents_client.ctl.agent_files` reads and writes the agent files (one YAML file per
  agent, exactly the members of :class:`~agents_core.schemas.AgentExport`), reporting a bad
  file by name and line;
* :mod:`~agents_client.ctl.lock` is ``agents.lock``: which agent and which version each file was
  based on;
* :mod:`~agents_client.ctl.server` reads the organization's agents with their ids and versions;
* :mod:`~agents_client.ctl.plan` computes, from those three values alone, what ``apply`` would
  do (no I/O: tested without a server);
* :mod:`~agents_client.ctl.applier` carries a plan out through the SDK;
* :mod:`~agents_client.ctl.served` compares the files with the release an environment serves;
* :mod:`~agents_client.ctl.report` renders plans, releases, environments and outcomes as text;
* :mod:`~agents_client.ctl.cli` is the command line, releases and environments included
  (``release create``, ``deploy``, ``promote``, ``rollback``, ``status``: thin over the SDK).
"""
