"""The trainee recording: a room camera and a microphone on the run's clock, in fragments.

Qt-free and headless. The room camera is a `simulator.devices.frames.CameraSource` (an
OpenCV camera with automatic exposure, a video file, `file_sources.SyntheticRoomCamera`);
the microphone a `sound.Microphone` (`sound.SoundDeviceMicrophone`,
`file_sources.FileMicrophone`, `file_sources.SyntheticRoomMicrophone`). `recorder` reads
them on its own threads into `fragments.FragmentWriter`, which writes one-second MP4s that
a crash cannot leave half-written; `reader` reads them back and exports them.
"""
