"""Conversions of pixel data (dcm2dcm, gdcmconv, emf2sf, swappxdata, dcm2jpg): plain
functions that turn one source file into output files, and the job kinds that run them."""
