@echo off
rem docker-credential-tokenrelay launcher for Windows: the bundled docker helper on VS Code's Node runtime, else node on PATH.
setlocal
if defined VSCODE_TOKENRELAY_NODE (
  set ELECTRON_RUN_AS_NODE=1
  "%VSCODE_TOKENRELAY_NODE%" "%~dp0..\dist\docker-credential-tokenrelay.js" %*
) else (
  node "%~dp0..\dist\docker-credential-tokenrelay.js" %*
)
exit /b %ERRORLEVEL%
