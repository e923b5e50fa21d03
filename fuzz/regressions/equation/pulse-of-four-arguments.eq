VECTOR SELECT(selection array one nonzero[dm1!,dim3], -12345, Time+PULSE(-12345, Time+6  
  , 06  
  , 0))