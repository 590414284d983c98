"""The edge node: detect faces near the camera and send the cloud only the face crops.

Sending crops instead of frames is the point of the architecture (a face crop is a few
kilobytes, a 1080p frame a few hundred). This package never imports `api`: an edge box
installs onnxruntime, OpenCV and requests, nothing of the cloud service.
"""
