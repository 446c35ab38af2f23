# JupyterHub configuration for a class on one machine: Debian's JupyterHub 3
# (apt-get install jupyterhub node-configurable-http-proxy), each student's
# single-user server in a home folder of their own that starts with a copy of
# the student versions (student/, made by `npm run build`), and the kit's
# TypeScript kernel registered for every server.
#
#   jupyterhub -f hub/jupyterhub_config.py            # run from anywhere
#
# Settings, all optional, from the environment:
#   KERNEL_LIB_HUB_HOMES     the students' home folders (default hub/homes)
#   KERNEL_LIB_HUB_STATE     the hub's database, cookie secret and the kernel
#                            registration (default hub/state)
#   KERNEL_LIB_HUB_PASSWORD  the one password every student logs in with
#                            (DummyAuthenticator: for a trial or a test; a real
#                            course sets another authenticator, see README)
#   KERNEL_LIB_HUB_ADMIN_TOKEN  a token for the service "course-admin", which
#                            may manage users and servers and reach them through
#                            the REST API (the class test uses it)
# Command-line options override anything here: --port, --JupyterHub.hub_port,
# --ConfigurableHTTPProxy.api_url, ...
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

course = Path(__file__).resolve().parent.parent  # the repository: node_modules, student/
homes = Path(os.environ.get("KERNEL_LIB_HUB_HOMES", course / "hub" / "homes")).resolve()
state = Path(os.environ.get("KERNEL_LIB_HUB_STATE", course / "hub" / "state")).resolve()
state.mkdir(parents=True, exist_ok=True)
homes.mkdir(parents=True, exist_ok=True)

c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)

c.JupyterHub.ip = "127.0.0.1"  # a public hub: "" and TLS, or a proxy in front
c.JupyterHub.port = 8000
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")
# Debian's configurable-http-proxy finds its modules in /usr/share/nodejs,
# which only Debian's own Node searches by itself.
os.environ["NODE_PATH"] = os.pathsep.join(p for p in ["/usr/share/nodejs", os.environ.get("NODE_PATH")] if p)

c.JupyterHub.authenticator_class = "dummy"
if os.environ.get("KERNEL_LIB_HUB_PASSWORD"):
    c.DummyAuthenticator.password = os.environ["KERNEL_LIB_HUB_PASSWORD"]

admin_token = os.environ.get("KERNEL_LIB_HUB_ADMIN_TOKEN")
if admin_token:
    c.JupyterHub.services = [{"name": "course-admin", "api_token": admin_token}]
    c.JupyterHub.load_roles = [
        {
            "name": "course-admin",
            "scopes": ["admin:users", "admin:servers", "access:servers", "tokens", "read:users"],
            "services": ["course-admin"],
        }
    ]

# Every student's server runs as the hub's account, in homes/<name>.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(homes / "{username}")
c.Spawner.default_url = "/tree"
# A class logs in at once: on a small machine twenty servers take a while.
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 300
# Kernels talk to their server over Unix sockets, not TCP ports. Each server
# picks its kernels' ports by itself (it binds port 0, closes, and hands the
# number to the kernel), so twenty servers starting kernels at once can pick
# the same port; one student's messages then reach another's kernel, which
# rejects them ("invalid hmac"), and the first never answers. Measured: two
# of three runs of the class test on Node 24 lost a student that way.
c.Spawner.args = ["--KernelManager.transport=ipc"]
if os.geteuid() == 0:
    c.Spawner.args.append("--allow-root")

# The kit's kernel, registered once for all the servers (as a system-wide
# /usr/local/share/jupyter would): tslab with kernel-lib's fixes.
kernels = state / "share" / "jupyter"
subprocess.run(
    ["node", str(course / "kernel-lib" / "bin" / "kernel-lib-kernelspec.js"), str(kernels)],
    cwd=course, check=True, stdout=subprocess.DEVNULL,
)


def runtime_dir(spawner):
    """Where a student's server keeps its kernels' connection files and
    sockets: a short path, since a Unix socket's may have at most 107 bytes,
    private to this hub (the hash of its state folder) and to the student."""
    tag = hashlib.sha1(str(state).encode()).hexdigest()[:8]
    d = Path(tempfile.gettempdir()) / f"kernel-lib-hub-{os.getuid()}" / tag / spawner.user.name
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(d)


c.Spawner.environment = {"JUPYTER_PATH": str(kernels), "JUPYTER_RUNTIME_DIR": runtime_dir}


def start_in_own_copy(spawner):
    """The student's home gets the student versions they do not have yet
    (their own work is never overwritten), and node_modules so that
    `import ... from "kernel-lib"` resolves there."""
    home = Path(spawner.home_dir_template.format(username=spawner.user.name))
    home.mkdir(parents=True, exist_ok=True)
    for lesson in sorted((course / "student").glob("*.ipynb")):
        if not (home / lesson.name).exists():
            shutil.copyfile(lesson, home / lesson.name)
    if not any((p / "node_modules" / "kernel-lib").exists() for p in [home, *home.parents]):
        (home / "node_modules").symlink_to(course / "node_modules")


c.Spawner.pre_spawn_hook = start_in_own_copy
