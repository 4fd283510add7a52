
powershell "%CD%\package-nuget.ps1"

