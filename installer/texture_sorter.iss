; Windows installer for Game Texture Sorter (Inno Setup 6).
;
; Built by `python build/build.py --target windows` (on Linux under Wine, on Windows natively,
; which runs ISCC with /DAppVersion=<ai.__version__>); by hand on Windows, from the repository root:
;     python build\build.py --target windows
;     iscc installer\texture_sorter.iss
; The installer lands in build\dist\installer\. It installs the onedir build, adds a Start-menu
; entry, opens .ps2model model packages with the app (double-click = import), and its uninstaller
; keeps the user's corrections, models and settings unless the user ticks the box to delete them
; (or, for an unattended uninstall, passes /DELETEUSERDATA).
; tests/build/test_spec.py checks this file's sections, paths and keys on every platform;
; build/smoke_test.py --target windows installs and uninstalls the real setup.exe under Wine.

#define AppName "Game Texture Sorter"
#define AppExeName "TextureSorter.exe"
#define AppCliName "texture-sorter.exe"
#ifndef BuildDir
  ; What `python build/build.py --target windows` writes.
  #define BuildDir "..\build\dist\windows\texture-sorter"
#endif
; Where the app keeps user data on Windows (platformdirs' user data/config/cache/log folders for
; "texture-sorter" all live under %LOCALAPPDATA%\texture-sorter).
#define UserDataDir "{localappdata}\texture-sorter"
#define PackageExt ".ps2model"
#define PackageProgId "TextureSorter.ps2model"
#ifndef AppVersion
  ; The version resource build\build.py writes from ai.__version__.
  #define AppVersion GetVersionNumbersString(AddBackslash(SourcePath) + BuildDir + "\" + AppExeName)
#endif

[Setup]
; AppId identifies the app to Windows across versions: never change it.
AppId={{8C1F4E3A-5B2D-4E7F-9A61-3D0C2B7E9F14}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Game Texture Sorter contributors
DefaultDirName={code:ProgramsFolder}\Game Texture Sorter
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per-user install by default (no admin prompt); the user may choose all users instead.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes
SetupIconFile=..\resources\icons\app.ico
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
OutputDir=..\build\dist\installer
OutputBaseFilename=TextureSorter-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "associate"; Description: "Open {#PackageExt} model packages with {#AppName}"; GroupDescription: "File types:"
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole onedir build: TextureSorter.exe (windowed), texture-sorter.exe (console) and _internal\.
Source: "{#BuildDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExeName}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Tasks: desktopicon

[Registry]
; .ps2model → TextureSorter.ps2model → TextureSorter.exe "%1", which imports the package.
; HKA is HKLM for an all-users install and HKCU for a per-user one.
Root: HKA; Subkey: "Software\Classes\{#PackageExt}"; ValueType: string; ValueName: ""; ValueData: "{#PackageProgId}"; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#PackageExt}"; ValueType: string; ValueName: "Content Type"; ValueData: "application/x-ps2model"; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#PackageExt}\OpenWithProgids"; ValueType: string; ValueName: "{#PackageProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#PackageProgId}"; ValueType: string; ValueName: ""; ValueData: "Texture Sorter model package"; Flags: uninsdeletekey; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#PackageProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExeName},0"; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#PackageProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExeName}"" ""%1"""; Tasks: associate
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExeName}\SupportedTypes"; ValueType: string; ValueName: "{#PackageExt}"; ValueData: ""; Flags: uninsdeletekey

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
var
  DeleteUserData: Boolean;

// autopf is Program Files for an all-users install, %LOCALAPPDATA%\Programs for a per-user one.
// Wine 8 lacks the per-user known folder (FOLDERID_UserProgramFiles), so Setup would stop there
// under Wine (the smoke test); its Windows location is used instead.
function ProgramsFolder(Param: String): String;
begin
  try
    Result := ExpandConstant('{autopf}');
  except
    Result := ExpandConstant('{localappdata}\Programs');
  end;
end;

function UserDataDir(): String;
begin
  Result := ExpandConstant('{#UserDataDir}');
end;

{ Asks before uninstalling; the box to delete the user's data starts unticked. A silent uninstall
  keeps the data. Returns False (uninstall cancelled) when the user presses Cancel. }
function AskKeepUserData(): Boolean;
var
  Form: TSetupForm;
  Info: TNewStaticText;
  Box: TNewCheckBox;
  OkButton, CancelButton: TNewButton;
begin
#if Ver >= EncodeVer(6, 6, 0)
  Form := CreateCustomForm(380, 150, False, True);
#else
  Form := CreateCustomForm();
  Form.ClientWidth := ScaleX(380);
  Form.ClientHeight := ScaleY(150);
#endif
  try
    Form.Caption := 'Uninstall {#AppName}';
    Info := TNewStaticText.Create(Form);
    Info.Parent := Form;
    Info.Left := ScaleX(12);
    Info.Top := ScaleY(12);
    Info.Width := Form.ClientWidth - ScaleX(24);
    Info.Height := ScaleY(52);
    Info.AutoSize := False;
    Info.WordWrap := True;
    Info.Caption := 'Your corrections, installed models, settings and logs in ' + UserDataDir() +
      ' are kept, so a later install picks them up.';
    Box := TNewCheckBox.Create(Form);
    Box.Parent := Form;
    Box.Left := ScaleX(12);
    Box.Top := ScaleY(72);
    Box.Width := Form.ClientWidth - ScaleX(24);
    Box.Height := ScaleY(20);
    Box.Caption := 'Also delete my corrections, models, settings and logs';
    Box.Checked := False;
    OkButton := TNewButton.Create(Form);
    OkButton.Parent := Form;
    OkButton.Caption := SetupMessage(msgButtonOK);
    OkButton.Width := ScaleX(80);
    OkButton.Height := ScaleY(26);
    OkButton.Left := Form.ClientWidth - ScaleX(180);
    OkButton.Top := Form.ClientHeight - ScaleY(38);
    OkButton.ModalResult := mrOk;
    OkButton.Default := True;
    CancelButton := TNewButton.Create(Form);
    CancelButton.Parent := Form;
    CancelButton.Caption := SetupMessage(msgButtonCancel);
    CancelButton.Width := ScaleX(80);
    CancelButton.Height := ScaleY(26);
    CancelButton.Left := Form.ClientWidth - ScaleX(92);
    CancelButton.Top := Form.ClientHeight - ScaleY(38);
    CancelButton.ModalResult := mrCancel;
    CancelButton.Cancel := True;
    Result := Form.ShowModal() = mrOk;
    DeleteUserData := Result and Box.Checked;
  finally
    Form.Free();
  end;
end;

{ Whether the uninstaller was started with /DELETEUSERDATA: the way to ask for the data to go in
  an unattended (/SILENT, /VERYSILENT) uninstall, which shows no box. }
function DeleteUserDataRequested(): Boolean;
var
  I: Integer;
begin
  Result := False;
  for I := 1 to ParamCount() do
    if CompareText(ParamStr(I), '/DELETEUSERDATA') = 0 then
      Result := True;
end;

function InitializeUninstall(): Boolean;
begin
  DeleteUserData := False;
  if UninstallSilent() then
  begin
    DeleteUserData := DeleteUserDataRequested();
    Result := True;
  end
  else
    Result := AskKeepUserData();
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if (CurUninstallStep = usPostUninstall) and DeleteUserData then
    DelTree(UserDataDir(), True, True, True);
end;
