@echo off
rem tokenrelay launcher for Windows terminals: the bundled CLI on VS Code's Node runtime, else node on PATH.
setlocal
if defined VSCODE_TOKENRELAY_NODE (
  set ELECTRON_RUN_AS_NODE=1
  "%VSCODE_TOKENRELAY_NODE%" "%~dp0..\dist\cli.js" %*
) else (
  node "%~dp0..\dist\cli.js" %*
)
exit /b %ERRORLEVEL%
