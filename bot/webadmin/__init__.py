"""The admin console as a Telegram Mini App: browse, edit and undo the knowledge, work the unanswered inbox,
review the quiz questions.

    web = build_admin_web(settings, brain, storage, reloader)     # bot/webadmin/server.py
    WebServer(web, "127.0.0.1", 8444).start()                     # `serve` does this when admin_web.url is set

Modules: auth (initData check, one-time links), forms (request bodies, field errors), views (what each page
shows), app (the aiohttp routes and Jinja2 pages), server (running it). Every change is an operation of
bot/admin.py, as for /kb and the CLI.
"""
from .app import PREFIX, AdminWeb, WebSettings
from .auth import AuthError, LoginLinks, sign_init_data, validate_init_data
from .server import WebServer, build_admin_web

__all__ = ["PREFIX", "AdminWeb", "AuthError", "LoginLinks", "WebServer", "WebSettings", "build_admin_web",
           "sign_init_data", "validate_init_data"]
